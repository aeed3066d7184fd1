"""Every model module is imported here, so `Base.metadata` knows the whole schema."""
