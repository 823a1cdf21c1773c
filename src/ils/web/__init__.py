"""The FastAPI app of ILS Jobs: API routes, (later) the dashboard and WebSockets."""
