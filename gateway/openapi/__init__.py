"""The API's description of itself: OpenAPI 3.1, made from the route tables and the models."""
