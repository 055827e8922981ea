"""The stakeholder comms REST API under /api/v1/workspaces/{workspace_slug}/."""
