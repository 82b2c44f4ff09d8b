-- wrk script: POST /register/{event} as the public form does, each request a new person.
-- Each wrk thread numbers its people apart from the others', so every address is new.
local thread_count = 0
function setup(thread)
  thread:set("index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  number = index * 10000000
  event = os.getenv("EVENT")
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = os.getenv("ORIGIN"),
    ["Sec-Fetch-Site"] = "same-origin",
  }
end

function request()
  number = number + 1
  local body = "name=Guest+" .. number .. "&email=guest" .. number .. "%40example.org"
  return wrk.format("POST", "/register/" .. event, headers, body)
end

function response(status, headers, body)
  if status ~= 303 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
