-- Every org has a default room (`general`, made with the org): people who join
-- the org as members or admins join it too. Guests join only the rooms they
-- are added to.

ALTER TABLE orgs ADD COLUMN default_room_id uuid REFERENCES rooms (id) ON DELETE SET NULL;
