"""The `reload` plugin: re-read the Corefile when it changes and swap every chain at once."""
