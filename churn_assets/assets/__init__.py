"""Asset factories: one per stage of a model's monthly life, driven by the catalogue."""
