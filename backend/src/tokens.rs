//! Room links and the tokens in them. A link is `{base}/r/{room}#{token}`; the token is a JWT
//! (HS256) signed with a key made at first start and kept in the data dir, readable by its
//! owner only. Claims: room, role, expiry, id. Every issued token has a row in `links`, so it
//! can be revoked; tokens themselves are never stored or logged.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use specta::Type;
use sqlx::SqlitePool;

use crate::db::now_ms;
use crate::Error;

/// Who holds a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the interview; may always type; may go stealthy.
    Interviewer,
    /// Is interviewed; may type in the terminal unless the room says otherwise.
    Candidate,
    /// Watches, read-only, hidden from the candidate.
    Observer,
}

impl Role {
    /// The role's name, as in links, the CLI and the protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Interviewer => "interviewer",
            Role::Candidate => "candidate",
            Role::Observer => "observer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "interviewer" => Ok(Role::Interviewer),
            "candidate" => Ok(Role::Candidate),
            "observer" => Ok(Role::Observer),
            other => Err(format!(
                "{other:?} is not a role; roles are interviewer, candidate and observer"
            )),
        }
    }
}

/// The longest a link may stay valid.
pub const MAX_LINK_SECS: u64 = 30 * 86_400;

/// How long a link stays valid unless asked otherwise.
pub const DEFAULT_LINK_SECS: u64 = 86_400;

/// The claims of a room token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    room: String,
    role: Role,
    /// Expiry, seconds since the epoch.
    exp: u64,
    /// Issued at, seconds since the epoch.
    iat: u64,
    /// The link's id (its row in `links`).
    jti: String,
}

/// The signing key of this install.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// The key file's name in the data dir.
const KEY_FILE: &str = "room-links.key";

impl Keys {
    /// Reads the key from the data dir, creating it (owner-only) at first start. Several
    /// processes starting at once end up with the same key.
    pub fn load_or_create(data_dir: &Path) -> Result<Keys, Error> {
        let path = data_dir.join(KEY_FILE);
        let io = |source| Error::DataDir {
            path: path.clone(),
            source,
        };
        let secret = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = vec![0u8; 32];
                getrandom::fill(&mut secret).expect("the OS provides randomness");
                match create_private_file(&path, &secret) {
                    Ok(()) => secret,
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path).map_err(io)?
                    }
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) => return Err(io(e)),
        };
        if secret.len() < 32 {
            return Err(Error::DataDir {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the link signing key is too short; delete the file to make a new one \
                     (every link issued so far stops working)",
                ),
            });
        }
        let unusable = |e: jsonwebtoken::errors::Error| Error::DataDir {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        };
        Ok(Keys {
            encoding: EncodingKey::from_secret(&secret).map_err(unusable)?,
            decoding: DecodingKey::from_secret(&secret).map_err(unusable)?,
        })
    }
}

/// Writes `bytes` to a new file that only its owner can read, failing if it exists. The file
/// appears complete or not at all.
fn create_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(bytes)?;
    tmp.1.sync_all()?;
    // hard_link fails when the target exists: exactly one creator wins.
    let linked = std::fs::hard_link(&tmp.0, path);
    let _ = std::fs::remove_file(&tmp.0);
    linked
}

fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).expect("the OS provides randomness");
    let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!(".{KEY_FILE}.{name}.tmp"));
    Ok((path.clone(), opts.open(&path)?))
}

/// A link as issued: the URL to hand out and what it opens.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct RoomLink {
    /// `{base}/r/{room}#{token}`.
    pub url: String,
    /// Who it is for.
    pub role: Role,
    /// When it stops working, milliseconds since the epoch.
    pub expires_at: i64,
    /// The link's id, to revoke it.
    pub id: String,
}

/// How long the interviewer's window may stay in a room before it asks for a new token.
pub const WINDOW_LINK_SECS: u64 = 12 * 3600;

/// What the interviewer's window needs to open a room.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct WindowSession {
    /// Room id.
    pub room: String,
    /// `ws://127.0.0.1:PORT[/prefix]`.
    pub ws_base: String,
    /// An interviewer token.
    pub token: String,
}

/// A link as listed (without its token, which is never stored).
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct LinkInfo {
    /// The link's id.
    pub id: String,
    /// Who it is for.
    pub role: Role,
    /// When it was made, milliseconds since the epoch.
    pub created_at: i64,
    /// When it stops working, milliseconds since the epoch.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// Which links to revoke.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revoke {
    /// One link, by id.
    Link(String),
    /// Every link of a role.
    Role(Role),
    /// Every link of the room.
    All,
}

/// Why a socket is refused. Each has its WebSocket close code; the page turns them into
/// plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token is not one of ours (forged, damaged, or from another install).
    Invalid,
    /// The token is for another room, or its role may not do this.
    WrongRoom,
    /// The token has expired or was revoked.
    Expired,
    /// The room is stopped, deleted or unknown.
    RoomClosed,
}

impl Refusal {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Refusal::Invalid => 4401,
            Refusal::WrongRoom => 4403,
            Refusal::Expired => 4410,
            Refusal::RoomClosed => 4404,
        }
    }

    /// The close reason (short: a close frame carries at most 123 bytes).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid link",
            Refusal::WrongRoom => "link for another room",
            Refusal::Expired => "link expired or revoked",
            Refusal::RoomClosed => "room stopped or unknown",
        }
    }
}

/// Who a token lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The room.
    pub room: String,
    /// As whom.
    pub role: Role,
    /// Through which link.
    pub link_id: String,
}

/// Makes a token for a new link of `room` and records the link.
pub async fn issue(
    db: &SqlitePool,
    keys: &Keys,
    room: &str,
    role: Role,
    valid_secs: u64,
) -> Result<(String, String, i64), Error> {
    issue_for(db, keys, room, role, valid_secs, false).await
}

/// [`issue`], for the interviewer's own window when `window` (such links are not listed).
async fn issue_for(
    db: &SqlitePool,
    keys: &Keys,
    room: &str,
    role: Role,
    valid_secs: u64,
    window: bool,
) -> Result<(String, String, i64), Error> {
    if valid_secs == 0 || valid_secs > MAX_LINK_SECS {
        return Err(Error::Invalid(format!(
            "a link may stay valid from 1 second to {} days",
            MAX_LINK_SECS / 86_400
        )));
    }
    let now = now_ms();
    let iat = (now / 1000) as u64;
    let exp = iat + valid_secs;
    let id = crate::rooms::new_id();
    let claims = Claims {
        room: room.to_string(),
        role,
        exp,
        iat,
        jti: id.clone(),
    };
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| Error::Runtime(format!("cannot sign the link: {e}")))?;
    let expires_at = (exp * 1000) as i64;
    sqlx::query(
        "INSERT INTO links (id, room_id, role, created_at, expires_at, window) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(room)
    .bind(role.as_str())
    .bind(now)
    .bind(expires_at)
    .bind(window)
    .execute(db)
    .await?;
    Ok((token, id, expires_at))
}

/// The token of the window's link to `room` while it has an hour or more left: signed again
/// from its row (the same claims give the same token), so opening a room again adds no row.
async fn window_token(db: &SqlitePool, keys: &Keys, room: &str) -> Result<Option<String>, Error> {
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT id, created_at, expires_at FROM links
         WHERE room_id = ? AND window = 1 AND revoked_at IS NULL AND expires_at > ?
         ORDER BY expires_at DESC LIMIT 1",
    )
    .bind(room)
    .bind(now_ms() + 3_600_000)
    .fetch_optional(db)
    .await?;
    let Some((id, created_at, expires_at)) = row else {
        return Ok(None);
    };
    let claims = Claims {
        room: room.to_string(),
        role: Role::Interviewer,
        exp: (expires_at / 1000) as u64,
        iat: (created_at / 1000) as u64,
        jti: id,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map(Some)
        .map_err(|e| Error::Runtime(format!("cannot sign the link: {e}")))
}

/// Checks `token` for `room`: signature, room, expiry, revocation, then whether the room is
/// open. The checks that need no database come first.
pub async fn admit(
    db: &SqlitePool,
    keys: &Keys,
    room: &str,
    token: &str,
) -> Result<Admitted, Refusal> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    // Expiry is checked below, after the room: a token for another room says so even when
    // it has also expired.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation)
        .map_err(|_| Refusal::Invalid)?
        .claims;
    if claims.room != room {
        return Err(Refusal::WrongRoom);
    }
    if claims.exp * 1000 <= now_ms() as u64 {
        return Err(Refusal::Expired);
    }
    let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT revoked_at FROM links WHERE id = ?")
        .bind(&claims.jti)
        .fetch_optional(db)
        .await
        .map_err(|_| Refusal::RoomClosed)?;
    match row {
        Some((None,)) => {}
        // Revoked, or the room (and with it its links) deleted.
        Some((Some(_),)) => return Err(Refusal::Expired),
        None => return Err(Refusal::RoomClosed),
    }
    let status: Option<(String,)> = sqlx::query_as("SELECT status FROM rooms WHERE id = ?")
        .bind(room)
        .fetch_optional(db)
        .await
        .map_err(|_| Refusal::RoomClosed)?;
    match status {
        Some((s,)) if s == crate::rooms::status::READY => Ok(Admitted {
            room: claims.room,
            role: claims.role,
            link_id: claims.jti,
        }),
        _ => Err(Refusal::RoomClosed),
    }
}

/// Revokes links of `room`; returns how many were live.
pub async fn revoke(db: &SqlitePool, room: &str, which: &Revoke) -> Result<u64, Error> {
    let now = now_ms();
    let q = match which {
        Revoke::Link(id) => sqlx::query(
            "UPDATE links SET revoked_at = ? WHERE room_id = ? AND id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(room)
        .bind(id.clone()),
        Revoke::Role(role) => sqlx::query(
            "UPDATE links SET revoked_at = ?
             WHERE room_id = ? AND role = ? AND revoked_at IS NULL AND window = 0",
        )
        .bind(now)
        .bind(room)
        .bind(role.as_str().to_string()),
        Revoke::All => {
            sqlx::query(
                "UPDATE links SET revoked_at = ? WHERE room_id = ? AND revoked_at IS NULL AND window = 0",
            )
                .bind(now)
                .bind(room)
        }
    };
    Ok(q.execute(db).await?.rows_affected())
}

/// The links of `room`, newest first.
pub async fn list(db: &SqlitePool, room: &str) -> Result<Vec<LinkInfo>, Error> {
    let rows: Vec<(String, String, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, role, created_at, expires_at, revoked_at FROM links
         WHERE room_id = ? AND window = 0 ORDER BY created_at DESC",
    )
    .bind(room)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(id, role, created_at, expires_at, revoked_at)| {
            Ok(LinkInfo {
                id,
                role: role.parse().map_err(Error::Invalid)?,
                created_at,
                expires_at,
                revoked_at,
            })
        })
        .collect()
}

impl crate::App {
    /// Issues a new link to `room` for `role`, valid for `valid_secs` (at most 30 days).
    /// Older links stay valid.
    pub async fn issue_link(
        &self,
        room: &str,
        role: Role,
        valid_secs: u64,
    ) -> Result<RoomLink, Error> {
        let rec = crate::rooms::get(&self.inner.db, room).await?;
        let base = self.link_base()?;
        let (token, id, expires_at) =
            issue(&self.inner.db, &self.inner.keys, &rec.id, role, valid_secs).await?;
        Ok(RoomLink {
            url: format!("{base}/r/{}#{token}", rec.id),
            role,
            expires_at,
            id,
        })
    }

    /// Revokes links of `room`; returns how many were live. Sockets opened with them are
    /// closed at once.
    pub async fn revoke_links(&self, room: &str, which: Revoke) -> Result<u64, Error> {
        crate::rooms::get(&self.inner.db, room).await?;
        if let Revoke::Link(id) = &which {
            let known: Option<(String,)> =
                sqlx::query_as("SELECT id FROM links WHERE id = ? AND room_id = ?")
                    .bind(id)
                    .bind(room)
                    .fetch_optional(&self.inner.db)
                    .await?;
            if known.is_none() {
                return Err(Error::Invalid(format!("room {room} has no link {id}")));
            }
        }
        let n = revoke(&self.inner.db, room, &which).await?;
        self.inner.hubs.revoked(room, &which).await;
        Ok(n)
    }

    /// The links of `room`, newest first (without their tokens).
    pub async fn list_links(&self, room: &str) -> Result<Vec<LinkInfo>, Error> {
        crate::rooms::get(&self.inner.db, room).await?;
        list(&self.inner.db, room).await
    }

    /// A token for the interviewer's own window to open `room` with, and where to connect:
    /// the room server on this machine (never the public URL). Such links are not listed and
    /// survive "revoke every interviewer link"; they end with the room or after 12 hours.
    pub async fn window_session(&self, room: &str) -> Result<WindowSession, Error> {
        let rec = crate::rooms::get(&self.inner.db, room).await?;
        let server = self.info().room_server;
        let url = server.url.ok_or_else(|| {
            Error::Invalid(format!(
                "the room server is not running{}; change the port in the settings",
                server.error.map(|e| format!(" ({e})")).unwrap_or_default()
            ))
        })?;
        // A server on every interface is reached through loopback from here.
        let local = url
            .replacen("http://0.0.0.0:", "http://127.0.0.1:", 1)
            .replacen("http://[::]:", "http://[::1]:", 1);
        let ws_base = format!(
            "ws{}{}",
            local.trim_start_matches("http"),
            self.addressing().path_prefix
        );
        let token = match window_token(&self.inner.db, &self.inner.keys, &rec.id).await? {
            Some(token) => token,
            None => {
                issue_for(
                    &self.inner.db,
                    &self.inner.keys,
                    &rec.id,
                    Role::Interviewer,
                    WINDOW_LINK_SECS,
                    true,
                )
                .await?
                .0
            }
        };
        Ok(WindowSession {
            room: rec.id,
            ws_base,
            token,
        })
    }

    /// Who `token` lets into `room`, or why not.
    pub async fn admit(&self, room: &str, token: &str) -> Result<Admitted, Refusal> {
        admit(&self.inner.db, &self.inner.keys, room, token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_and_print_the_same() {
        for r in [Role::Interviewer, Role::Candidate, Role::Observer] {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("admin".parse::<Role>().unwrap_err().contains("not a role"));
    }

    #[test]
    fn the_key_is_made_once_owner_only_and_shared_by_racers() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<_> = (0..8)
            .map(|_| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || Keys::load_or_create(&d).unwrap())
            })
            .collect();
        let keys: Vec<Keys> = keys.into_iter().map(|k| k.join().unwrap()).collect();
        let claims = Claims {
            room: "r".into(),
            role: Role::Candidate,
            exp: u64::MAX / 2,
            iat: 0,
            jti: "j".into(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys[0].encoding)
                .unwrap();
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        for k in &keys {
            jsonwebtoken::decode::<Claims>(&token, &k.decoding, &v).expect("same key everywhere");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
