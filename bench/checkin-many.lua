-- wrk script: POST /api/checkin for many events at once. Each line of $CODES_FILE is
-- "deviceId<TAB>gateId<TAB>deviceToken<TAB>qrData": the scan a gate of that line's event makes.
-- The threads' split of the lines and the answer check are checkin.lua's; only reading the
-- lines and building each request differ.
dofile("bench/checkin.lua")

function init(args)
  scans = {}
  for line in io.lines(os.getenv("CODES_FILE")) do
    local device, gate, token, code = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)$")
    scans[#scans + 1] = {
      body = '{"qrData":"' .. code .. '","deviceId":"' .. device .. '","gateId":"' .. gate .. '"}',
      headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    }
  end
  step = tonumber(os.getenv("WRK_THREADS") or "2")
  position = index + 1
end

function request()
  local scan = scans[position]
  position = position + step
  if position > #scans then position = index + 1 end
  return wrk.format("POST", "/api/checkin", scan.headers, scan.body)
end
