-- wrk: POST /api/items with one fixed item, the same values pgbench inserts
-- (bench/pgbench/insert.sql with -D name=bench-item -D description=pgbench -D value=42).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench-item","description":"pgbench","value":"42"}'
