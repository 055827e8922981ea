"""Models of the feedback app. Each subclasses productops.models.WorkspaceOwnedModel."""
