"""The API routers of the web app, one module per area; ``create_app`` includes each of them."""
