"""Bot definitions (persona, greeting) and the operations creators use to manage them."""
