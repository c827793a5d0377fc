"""The demo's steps, one module each, in the order `demo.run` calls them."""
