"""Built-in sources; importing this package registers them all in ``wattlens.ingest.base.SOURCES``.

Each source module adds itself to the import line below.
"""

from wattlens.ingest.sources import files, greenbutton, modbus, mqtt, weather

__all__ = ["files", "greenbutton", "modbus", "mqtt", "weather"]
