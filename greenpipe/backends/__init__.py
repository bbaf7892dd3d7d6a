"""Compile greenpipe pipelines for remote runtimes. Nothing imports a backend except the CLI and users."""
