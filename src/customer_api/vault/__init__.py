"""The vault: where uploaded files are kept, what they are, their thumbnails (/vault/...)."""
