"""CRI semantics, independent of the VM backend: ids, states, filters, validation, records."""
