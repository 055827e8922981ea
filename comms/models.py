"""Models of the comms app. Each subclasses productops.models.WorkspaceOwnedModel."""
