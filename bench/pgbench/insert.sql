-- POST /api/items as itemsd runs it (src/db/items.rs: create). With -M prepared the variables
-- become parameters $1..$3 (-D name=... -D description=... -D value=..., the body of post.lua).
INSERT INTO items (name, description, value) VALUES (:name, :description, :value) RETURNING id, name, description, value, created_at, updated_at;
