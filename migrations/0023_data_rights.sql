-- Data rights: a person's export and erasure (issue 13).
--
-- The export of one person carries their e-mail address, which the app's role
-- cannot read (0006): this function answers it for members of the org the
-- transaction is bound to, and for no one else.
CREATE FUNCTION troupe_member_email(p_user uuid)
  RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT u.email FROM users u
        JOIN org_members m ON m.user_id = u.id AND m.org_id = troupe_current_org()
        WHERE u.id = p_user $$;
REVOKE ALL ON FUNCTION troupe_member_email(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_member_email(uuid) TO troupe_app;

-- Erasing a person removes the invitations they accepted (each holds their
-- address); row-level security keeps it to the org's own rows.
GRANT DELETE ON invitations TO troupe_app;
