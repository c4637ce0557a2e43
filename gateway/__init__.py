"""The HTTP gateway: one aiohttp application with a face per API, over one service layer."""
