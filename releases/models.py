"""Models of the releases app. Each subclasses productops.models.WorkspaceOwnedModel."""
