"""The embeddable web widget: script, styles, demo page and embed-code generation."""
