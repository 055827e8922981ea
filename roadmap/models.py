"""Models of the roadmap app. Each subclasses productops.models.WorkspaceOwnedModel."""
