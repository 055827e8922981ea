"""The roadmap's REST API under /api/v1/workspaces/{workspace_slug}/."""
