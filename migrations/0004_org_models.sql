-- Which models an org's teammates may use. NULL: any model the server allows.

ALTER TABLE orgs ADD COLUMN allowed_models text[];
