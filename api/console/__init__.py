"""The web console: server-rendered pages for people in a browser, served by the API at `/`."""
