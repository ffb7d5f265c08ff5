"""Text the bot says: message catalogs (English and Arabic side by side) and localisation of dates, prices and
numbers."""
