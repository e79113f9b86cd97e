//! The room in Redis: its keys, the scripts that change it, and what they
//! answer. Every change is one Lua script, which Redis runs atomically: no
//! other command runs between its first line and its last, so the number an
//! event gets and its place in the stream can never disagree.
//!
//! | key | type | what it holds |
//! |---|---|---|
//! | `chat:seq` | string | the last event number handed out |
//! | `chat:events` | stream | every event, entry ID `<seq>-0`, the last [`EVENTS_KEPT`] |
//! | `chat:history` | stream | the chat messages only, the last [`HISTORY_LEN`] |
//! | `chat:nicks` | hash | folded nickname → who holds it (instance, member, key) |
//! | `chat:instances` | set | the instances that have members, alive or not |
//! | `chat:alive:<instance>` | string | there while the instance renews it ([`ALIVE_TTL`]) |
//! | `chat:boot` | string | which run of the room this is |

use std::time::Duration;

use chatroom::{Chat, HISTORY_LEN, Presence, ServerMessage};
use redis::aio::ConnectionManager;
use redis::{RedisError, Script, Value};
use serde::Deserialize;

/// How many events the stream keeps for pages that come back (`since`):
/// the last 1,000. A page away for longer gets the last ones and is told
/// that some are gone.
pub const EVENTS_KEPT: usize = 1000;

/// How long an instance's `alive` key lives without being renewed: 3 s.
/// An instance renews it every [`ALIVE_EVERY`]; one that stops (it died,
/// or lost its network) is found dead by the others once it has expired.
pub const ALIVE_TTL: Duration = Duration::from_secs(3);

/// How often an instance renews its `alive` key and looks for dead ones:
/// every second.
pub const ALIVE_EVERY: Duration = Duration::from_secs(1);

/// How long after an instance dies its members are gone from every list,
/// with a `left` each: its `alive` key expires, and the next look by a
/// live instance finds it ([`ALIVE_TTL`] + [`ALIVE_EVERY`], 4 s).
pub const PRESENCE_DEADLINE: Duration = Duration::from_secs(4);

/// The longest any command may take before the room counts Redis as down:
/// 2 s.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The names of the room's keys.
#[derive(Debug, Clone)]
pub struct Keys {
    pub seq: String,
    pub events: String,
    pub history: String,
    pub nicks: String,
    pub instances: String,
    pub boot: String,
    prefix: String,
}

impl Keys {
    /// The keys under `prefix` (`chat`).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            seq: format!("{prefix}:seq"),
            events: format!("{prefix}:events"),
            history: format!("{prefix}:history"),
            nicks: format!("{prefix}:nicks"),
            instances: format!("{prefix}:instances"),
            boot: format!("{prefix}:boot"),
            prefix: prefix.to_owned(),
        }
    }

    /// The key that says `instance` is alive.
    pub fn alive(&self, instance: &str) -> String {
        format!("{}:alive:{instance}", self.prefix)
    }
}

/// What the scripts share: appending an event to the stream under the next
/// number, and announcing a departure.
const PRELUDE: &str = r"
local function append(fields)
  local seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[1], seq .. '-0', unpack(fields))
  return seq
end
local function depart(field, holder, why, ts)
  redis.call('HDEL', KEYS[1], field)
  local online = redis.call('HLEN', KEYS[1])
  return append({'type', 'left', 'nick', holder.n, 'online', online, 'ts', ts,
                 'i', holder.i, 'm', holder.m, 'why', why})
end
";

// ANCHOR: join_script
/// Enters the room: takes the nickname if nobody holds it (or its holder
/// joined with the same key: the same page, back), announces `joined`, and
/// answers with what the welcome needs, all at one point in the order.
///
/// KEYS: nicks, seq, events, history, boot.
/// ARGV: events kept, folded nick, nick, key (or ""), instance, member,
/// time, a new boot (used if the room has none), since (or ""), the boot
/// `since` counts in.
const JOIN: &str = r"
redis.call('SET', KEYS[5], ARGV[8], 'NX')
local boot = redis.call('GET', KEYS[5])
local held = redis.call('HGET', KEYS[1], ARGV[2])
if held then
  local holder = cjson.decode(held)
  if ARGV[4] == '' or holder.k ~= ARGV[4] then
    return cjson.encode({taken = holder.n})
  end
  depart(ARGV[2], holder, 'replaced', ARGV[7])
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(
  {i = ARGV[5], m = ARGV[6], n = ARGV[3], k = ARGV[4], s = seq}))
local online = redis.call('HLEN', KEYS[1])
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[1], seq .. '-0',
  'type', 'joined', 'nick', ARGV[3], 'online', online, 'ts', ARGV[7])
local members = {}
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  local m = cjson.decode(record)
  table.insert(members, {m.s, m.n})
end
table.sort(members, function(a, b) return a[1] < b[1] end)
local names = {}
for i, m in ipairs(members) do names[i] = m[2] end
local entries, complete
if ARGV[9] ~= '' and ARGV[10] == boot then
  local since = tonumber(ARGV[9])
  entries = redis.call('XRANGE', KEYS[3], '(' .. since .. '-0', '(' .. seq .. '-0')
  local oldest = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
  complete = since + 1 >= seq or tonumber(string.match(oldest[1], '^%d+')) <= since + 1
else
  entries = redis.call('XRANGE', KEYS[4], '-', '+')
end
local history = {}
for _, entry in ipairs(entries) do
  local f = entry[2]
  if f[2] == 'message' then
    table.insert(history, {entry[1], f[4], f[6], f[8]})
  end
end
return cjson.encode({seq = seq, boot = boot, members = names, history = history,
                     complete = complete})
";
// ANCHOR_END: join_script

// ANCHOR: say_script
/// Says something, if the member still holds its name: the next number,
/// into the events and into the history.
///
/// KEYS: nicks, seq, events, history. ARGV: events kept, folded nick,
/// instance, member, text, time, history kept.
const SAY: &str = r"
local held = redis.call('HGET', KEYS[1], ARGV[2])
if not held then return 0 end
local holder = cjson.decode(held)
if holder.i ~= ARGV[3] or holder.m ~= ARGV[4] then return 0 end
local seq = append({'type', 'message', 'nick', holder.n, 'text', ARGV[5], 'ts', ARGV[6]})
redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[7], seq .. '-0',
  'type', 'message', 'nick', holder.n, 'text', ARGV[5], 'ts', ARGV[6])
return seq
";
// ANCHOR_END: say_script

/// Leaves, if the member still holds its name.
///
/// KEYS: nicks, seq, events. ARGV: events kept, folded nick, instance,
/// member, time.
const LEAVE: &str = r"
local held = redis.call('HGET', KEYS[1], ARGV[2])
if not held then return 0 end
local holder = cjson.decode(held)
if holder.i ~= ARGV[3] or holder.m ~= ARGV[4] then return 0 end
return depart(ARGV[2], holder, 'left', ARGV[5])
";

// ANCHOR: sweep_script
/// Announces the departure of every member of `instance` that is not in
/// `keep`: all of a dead instance's members (then only if its `alive` key
/// is gone, checked here, atomically), or an instance's own members that it
/// no longer has (a leave that failed while Redis was away).
///
/// KEYS: nicks, seq, events, instances, alive key of `instance`.
/// ARGV: events kept, instance, time, members to keep (JSON list, or "dead").
const SWEEP: &str = r"
local dead = ARGV[4] == 'dead'
if dead and redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
local keep = {}
if not dead then
  for _, m in ipairs(cjson.decode(ARGV[4])) do keep[tostring(m)] = true end
end
local gone = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local holder = cjson.decode(all[i + 1])
  if holder.i == ARGV[2] and not keep[holder.m] then
    depart(all[i], holder, 'gone', ARGV[3])
    gone = gone + 1
  end
end
if dead then redis.call('SREM', KEYS[4], ARGV[2]) end
return gone
";
// ANCHOR_END: sweep_script

/// The scripts, loaded once (Redis caches them by their SHA-1; `invoke`
/// sends the body only when Redis does not know it yet, after a restart).
#[derive(Debug)]
pub struct Scripts {
    join: Script,
    say: Script,
    leave: Script,
    sweep: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            join: with_prelude(JOIN),
            say: with_prelude(SAY),
            leave: with_prelude(LEAVE),
            sweep: with_prelude(SWEEP),
        }
    }
}

/// What the join script answers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Joined {
    /// The nickname is held by someone else (its holder's spelling).
    Taken { taken: String },
    /// In: the `joined` event's number and the welcome's contents.
    In {
        seq: u64,
        boot: String,
        #[serde(deserialize_with = "list")]
        members: Vec<String>,
        /// `[id, nick, text, ts]` of each message.
        #[serde(deserialize_with = "list")]
        history: Vec<(String, String, String, String)>,
        #[serde(default)]
        complete: Option<bool>,
    },
}

/// Lua's JSON encoder writes an empty table as `{}`: an empty list here.
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Object(map) if map.is_empty() => Ok(Vec::new()),
        value => serde_json::from_value(value).map_err(serde::de::Error::custom),
    }
}

/// The `<seq>-0` of a stream entry ID, as the number.
pub fn seq_of(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(seq, _)| seq.parse().ok())
}

/// One member's place in Redis: who holds its name.
#[derive(Debug, Clone)]
pub struct Holder<'a> {
    pub instance: &'a str,
    pub member: u64,
    pub folded: &'a str,
}

/// The room's store: a connection that reconnects by itself, the keys and
/// the scripts.
#[derive(Clone)]
pub struct Store {
    pub conn: ConnectionManager,
    pub keys: std::sync::Arc<Keys>,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("keys", &self.keys).finish()
    }
}

impl Store {
    /// A store on `conn`, under the keys of `prefix`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Store {
        Store {
            conn,
            keys: std::sync::Arc::new(Keys::new(prefix)),
            scripts: std::sync::Arc::new(Scripts::default()),
        }
    }

    /// Runs the join script.
    pub async fn join(
        &self,
        who: &Holder<'_>,
        nick: &str,
        key: Option<&str>,
        ts: u64,
        since: Option<&chatroom::Since>,
    ) -> Result<Joined, RedisError> {
        let k = &self.keys;
        let answer: String = self
            .scripts
            .join
            .key(&k.nicks)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.history)
            .key(&k.boot)
            .arg(EVENTS_KEPT)
            .arg(who.folded)
            .arg(nick)
            .arg(key.unwrap_or(""))
            .arg(who.instance)
            .arg(who.member.to_string())
            .arg(ts)
            .arg(push::new_boot())
            .arg(since.map(|s| s.seq.to_string()).unwrap_or_default())
            .arg(since.map(|s| s.boot.as_str()).unwrap_or(""))
            .invoke_async(&mut self.conn.clone())
            .await?;
        serde_json::from_str(&answer).map_err(|e| {
            RedisError::from((
                redis::ErrorKind::Parse,
                "the join script's answer",
                e.to_string(),
            ))
        })
    }

    /// Runs the say script: `Some(seq)`, or `None` if the member no longer
    /// holds its name.
    pub async fn say(
        &self,
        who: &Holder<'_>,
        text: &str,
        ts: u64,
    ) -> Result<Option<u64>, RedisError> {
        let k = &self.keys;
        let seq: u64 = self
            .scripts
            .say
            .key(&k.nicks)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.history)
            .arg(EVENTS_KEPT)
            .arg(who.folded)
            .arg(who.instance)
            .arg(who.member.to_string())
            .arg(text)
            .arg(ts)
            .arg(HISTORY_LEN)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok((seq > 0).then_some(seq))
    }

    /// Runs the leave script.
    pub async fn leave(&self, who: &Holder<'_>, ts: u64) -> Result<(), RedisError> {
        let k = &self.keys;
        let _: u64 = self
            .scripts
            .leave
            .key(&k.nicks)
            .key(&k.seq)
            .key(&k.events)
            .arg(EVENTS_KEPT)
            .arg(who.folded)
            .arg(who.instance)
            .arg(who.member.to_string())
            .arg(ts)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Runs the sweep script for `instance`: `keep` its members listed, or
    /// with `None`, all of them if it is dead. Returns how many left.
    pub async fn sweep(
        &self,
        instance: &str,
        keep: Option<&[u64]>,
        ts: u64,
    ) -> Result<u64, RedisError> {
        let k = &self.keys;
        let keep = match keep {
            Some(ids) => serde_json::to_string(&ids.iter().map(u64::to_string).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".into()),
            None => "dead".into(),
        };
        self.scripts
            .sweep
            .key(&k.nicks)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.instances)
            .key(k.alive(instance))
            .arg(EVENTS_KEPT)
            .arg(instance)
            .arg(ts)
            .arg(keep)
            .invoke_async(&mut self.conn.clone())
            .await
    }
}

/// A stream entry as the page sees it: the event, numbered by its ID. For
/// a `left`, also who it was (instance, member) and why.
pub fn event_of(
    id: &str,
    fields: &[(String, String)],
) -> Option<(u64, ServerMessage, Option<Departure>)> {
    let seq = seq_of(id)?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.as_str())
    };
    let nick = get("nick")?.to_owned();
    let ts = get("ts")?.parse().ok()?;
    let presence = || -> Option<Presence> {
        Some(Presence {
            seq,
            nick: nick.clone(),
            online: get("online")?.parse().ok()?,
            ts,
        })
    };
    Some(match get("type")? {
        "message" => (
            seq,
            ServerMessage::Message(Chat {
                seq,
                from: nick.clone(),
                text: get("text")?.to_owned(),
                ts,
            }),
            None,
        ),
        "joined" => (seq, ServerMessage::Joined(presence()?), None),
        "left" => {
            let departure = Departure {
                instance: get("i")?.to_owned(),
                member: get("m")?.parse().ok()?,
                replaced: get("why") == Some("replaced"),
            };
            (seq, ServerMessage::Left(presence()?), Some(departure))
        }
        _ => return None,
    })
}

/// Who a `left` event was about, for the instance that holds its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    pub instance: String,
    pub member: u64,
    /// Its name was taken back by the same page on a newer connection.
    pub replaced: bool,
}

/// Reads the entries of an `XREAD` or `XRANGE` reply: `(id, fields)`.
pub fn entries(reply: &Value) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    collect_entries(reply, &mut out);
    out
}

fn collect_entries(value: &Value, out: &mut Vec<(String, Vec<(String, String)>)>) {
    let Value::Array(items) = value else {
        if let Value::Map(pairs) = value {
            for (_, v) in pairs {
                collect_entries(v, out);
            }
        }
        return;
    };
    // An entry is [id, [field, value, ...]].
    if let [Value::BulkString(id), Value::Array(fields)] = items.as_slice()
        && !fields.is_empty()
        && fields.iter().all(|f| matches!(f, Value::BulkString(_)))
    {
        let text = |v: &Value| match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            _ => String::new(),
        };
        let pairs = fields
            .chunks(2)
            .filter_map(|pair| match pair {
                [f, v] => Some((text(f), text(v))),
                _ => None,
            })
            .collect();
        out.push((String::from_utf8_lossy(id).into_owned(), pairs));
        return;
    }
    for item in items {
        collect_entries(item, out);
    }
}
