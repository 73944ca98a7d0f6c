"""The HTTP inference service: routers, schemas, the loaded model."""
