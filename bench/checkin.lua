-- wrk script: POST /api/checkin, each request with the next ticket code from $CODES_FILE.
-- Each wrk thread takes every Nth code (N = number of threads), so no two threads send the
-- same code: in the "first" run every request is a first check-in.
local thread_count = 0
function setup(thread)
  thread:set("index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  codes = {}
  for line in io.lines(os.getenv("CODES_FILE")) do codes[#codes + 1] = line end
  step = tonumber(os.getenv("WRK_THREADS") or "2")
  position = index + 1
  device = os.getenv("DEVICE_ID")
  gate = os.getenv("GATE_ID")
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("DEVICE_TOKEN") }
end

function request()
  local code = codes[position]
  position = position + step
  if position > #codes then position = index + 1 end
  local body = '{"qrData":"' .. code .. '","deviceId":"' .. device .. '","gateId":"' .. gate .. '"}'
  return wrk.format("POST", "/api/checkin", headers, body)
end

statuses = {}
function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
