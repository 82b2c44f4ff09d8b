-- wrk script: the reference for registrations, POST /api/events/{id}/tickets with one named
-- ticket per request (the same ticket, no outbox, no form).
local thread_count = 0
function setup(thread)
  thread:set("index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  number = index * 10000000
  event = os.getenv("EVENT")
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_ADMIN_TOKEN") }
end

function request()
  number = number + 1
  local body = '{"holderName":"Guest ' .. number .. '","email":"guest' .. number .. '@example.org"}'
  return wrk.format("POST", "/api/events/" .. event .. "/tickets", headers, body)
end

function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
