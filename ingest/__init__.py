"""Ingest: source plug-ins (files, Green Button, weather, Modbus, MQTT) that turn meter data
into validated readings frames, normalisation helpers, and the worker that stores them."""
