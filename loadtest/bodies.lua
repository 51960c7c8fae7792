-- wrk script: POSTs the JSON request bodies of the file named by $BODIES (one a line), in turn,
-- to the URL's path.
local requests = {}

-- Built in init, once wrk knows the URL's host and path.
function init()
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(os.getenv("BODIES")) do
        requests[#requests + 1] = wrk.format("POST", nil, headers, line)
    end
    assert(#requests > 0, "no request bodies in $BODIES")
end

local next_request = 0
function request()
    next_request = next_request % #requests + 1
    return requests[next_request]
end

