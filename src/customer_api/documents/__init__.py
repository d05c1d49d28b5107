"""Documents: files uploaded to the vault and links to files kept elsewhere, and which customers
they are attached to (/api/1/document, /api/1/customer/{id}/document/{did})."""
