-- wrk script for the reference comparison: the same decide request, sent to /v1/decide or to
-- the bare endpoint (/bench/bare, mounted with `jiangcheng serve --bench-routes`).
wrk.method = "POST"
wrk.body = '{"subject":{"id":"91230202MAG6KQ7Y4X"},"matter":"gov_procurement"}'
wrk.headers["Content-Type"] = "application/json"
