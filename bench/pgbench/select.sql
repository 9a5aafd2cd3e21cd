-- GET /api/items?limit=10 as itemsd runs it (src/db/items.rs: list). With -M prepared the
-- variables become parameters $1 and $2 (-D limit=10 -D offset=0), as in itemsd's statement.
SELECT id, name, description, value, created_at, updated_at FROM items ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset;
