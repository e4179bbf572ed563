-- Issue 14 (DESIGN §9, settled before the e-mail CRM): one live 002 contact per
-- normalised e-mail address — importers (vCard, CSV, LinkedIn, mbox) find or create
-- a contact by it, and two imports at once cannot make two. Deleted and merged
-- contacts keep their address without blocking a live one.
CREATE UNIQUE INDEX idx_contacts_live_email ON contacts (user_id, lower(email))
    WHERE email IS NOT NULL AND is_deleted IS NOT TRUE AND merged_into_id IS NULL;
