//! An audit event as JSON in exports and proofs: every field of the stored row under its
//! [`AuditRow`] name (`ts_us`, `principal`, …, `grant_id`) plus `id`, an absent field as `null`,
//! numbers as JSON numbers. Built and read by hand (no derived serialisation: the format changes
//! only here, on purpose), and read back exactly: a verifier rebuilds the leaf from these fields.

use serde_json::{json, Map, Value};

use crate::store::AuditRow;

/// The JSON object of one event.
pub fn event_json(r: &AuditRow) -> Value {
    json!({
        "id": r.id,
        "ts_us": r.ts_us,
        "principal": r.principal,
        "tried_principal": r.tried_principal,
        "client": r.client,
        "method": r.method,
        "destination": r.destination,
        "url": r.url,
        "decision": r.decision,
        "rule": r.rule,
        "status": r.status,
        "bytes_up": r.bytes_up,
        "bytes_down": r.bytes_down,
        "duration_us": r.duration_us,
        "stage": r.stage,
        "error": r.error,
        "terminal": r.terminal,
        "location": r.location,
        "session_id": r.session_id,
        "groups": r.groups,
        "tier": r.tier,
        "policy_version": r.policy_version,
        "role": r.role,
        "revoked_by": r.revoked_by,
        "grant_id": r.grant_id,
    })
}

/// Read an event object back. Every field must be there, with the type it has in [`event_json`].
pub fn event_from_json(v: &Value) -> Result<AuditRow, String> {
    let o = v.as_object().ok_or("the event is not a JSON object")?;
    let f = Fields(o);
    Ok(AuditRow {
        id: f.int("id")?,
        ts_us: f.int("ts_us")?,
        principal: f.opt_text("principal")?,
        tried_principal: f.opt_text("tried_principal")?,
        client: f.text("client")?,
        method: f.text("method")?,
        destination: f.text("destination")?,
        url: f.opt_text("url")?,
        decision: f.text("decision")?,
        rule: f.text("rule")?,
        status: u16::try_from(f.uint("status")?).map_err(|_| "`status` is not a status code")?,
        bytes_up: f.uint("bytes_up")?,
        bytes_down: f.uint("bytes_down")?,
        duration_us: f.uint("duration_us")?,
        stage: f.text("stage")?,
        error: f.opt_text("error")?,
        terminal: f.opt_text("terminal")?,
        location: f.opt_text("location")?,
        session_id: f.opt_int("session_id")?,
        groups: f.opt_text("groups")?,
        tier: f.opt_text("tier")?,
        policy_version: f.opt_text("policy_version")?,
        role: f.opt_text("role")?,
        revoked_by: f.opt_text("revoked_by")?,
        grant_id: f.opt_int("grant_id")?,
    })
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Result<&Value, String> {
        self.0
            .get(name)
            .ok_or_else(|| format!("the event has no field `{name}`"))
    }

    fn text(&self, name: &str) -> Result<String, String> {
        self.opt_text(name)?
            .ok_or_else(|| format!("the event's `{name}` is null"))
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(format!("the event's `{name}` is not a string")),
        }
    }

    fn int(&self, name: &str) -> Result<i64, String> {
        self.opt_int(name)?
            .ok_or_else(|| format!("the event's `{name}` is null"))
    }

    fn opt_int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.get(name)? {
            Value::Null => Ok(None),
            v => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("the event's `{name}` is not an integer")),
        }
    }

    fn uint(&self, name: &str) -> Result<u64, String> {
        self.get(name)?
            .as_u64()
            .ok_or_else(|| format!("the event's `{name}` is not a non-negative integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::event_leaf;

    #[test]
    fn an_event_reads_back_to_the_same_leaf() {
        let row = AuditRow {
            id: 7,
            ts_us: 1,
            principal: Some("ada".into()),
            url: Some(String::new()),
            bytes_up: u64::MAX,
            grant_id: Some(-3),
            ..AuditRow::action(1, "a", "cli", "x.y", "s", Some("d\n\u{1}".into()))
        };
        let text = event_json(&row).to_string();
        let back = event_from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, row);
        assert_eq!(event_leaf(&back), event_leaf(&row));
        let mut v = event_json(&row);
        v.as_object_mut().unwrap().remove("tier");
        assert_eq!(
            event_from_json(&v).unwrap_err(),
            "the event has no field `tier`"
        );
    }
}
