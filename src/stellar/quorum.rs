//! The quorum set stellar-core derives from `[[HOME_DOMAINS]]`/`[[VALIDATORS]]` (reference §2.3) and
//! the startup checks it runs on it (§2.4), replicated offline so a bad inventory fails in CI, not
//! in a crash-looping pod.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::inventory::{Quality, StellarInventory, Validator};

/// An SCP quorum set over validator names. Printed as `{t:2, v:[a, b], inner:[…]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QuorumSet {
    pub(crate) threshold: usize,
    pub(crate) validators: Vec<String>,
    pub(crate) inner: Vec<QuorumSet>,
}

impl QuorumSet {
    fn size(&self) -> usize {
        self.validators.len() + self.inner.len()
    }

    /// `FAILURE_SAFETY=-1` as core resolves it: top-level entities minus threshold.
    pub(crate) fn failure_safety(&self) -> usize {
        self.size().saturating_sub(self.threshold)
    }

    /// True when `nodes` intersects every slice: more than `size - threshold` members are (or
    /// v-block) it.
    pub(crate) fn is_v_blocking(&self, nodes: &BTreeSet<&str>) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let hit = self
            .validators
            .iter()
            .filter(|v| nodes.contains(v.as_str()))
            .count()
            + self.inner.iter().filter(|q| q.is_v_blocking(nodes)).count();
        hit > self.size() - self.threshold
    }
}

impl fmt::Display for QuorumSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{t:{}, v:[{}]",
            self.threshold,
            self.validators.join(", ")
        )?;
        if !self.inner.is_empty() {
            f.write_str(", inner:[")?;
            for (i, q) in self.inner.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{q}")?;
            }
            f.write_str("]")?;
        }
        f.write_str("}")
    }
}

fn simple_majority(n: usize) -> usize {
    if n == 0 { 0 } else { n - (n - 1) / 2 }
}

fn byzantine(n: usize) -> usize {
    if n == 0 { 0 } else { n - (n - 1) / 3 }
}

struct Entry<'a> {
    name: &'a str,
    home_domain: &'a str,
    quality: Quality,
}

const LEVELS: [Quality; 4] = [
    Quality::Critical,
    Quality::High,
    Quality::Medium,
    Quality::Low,
];

/// One quality level: an inner set per home domain, the next lower level nested as one more entry
/// (core's `generateQuorumSetHelper`).
fn level(entries: &[Entry<'_>], depth: usize) -> QuorumSet {
    let current = LEVELS[depth];
    let mut set = QuorumSet {
        threshold: 0,
        validators: Vec::new(),
        inner: Vec::new(),
    };
    let mut rest = entries;
    while let Some(first) = rest.first().filter(|e| e.quality == current) {
        let n = rest
            .iter()
            .take_while(|e| e.home_domain == first.home_domain)
            .count();
        let validators: Vec<String> = rest[..n].iter().map(|e| e.name.to_owned()).collect();
        set.inner.push(QuorumSet {
            threshold: simple_majority(n),
            validators,
            inner: Vec::new(),
        });
        rest = &rest[n..];
    }
    if !rest.is_empty() && depth + 1 < LEVELS.len() {
        let lower = level(rest, depth + 1);
        if lower.threshold != 0 {
            set.inner.push(lower);
        }
    }
    set.threshold = if current == Quality::Critical {
        set.size()
    } else {
        byzantine(set.size())
    };
    set
}

/// Core's `normalizeQSet`: singleton `{t:1, [x]}` inner sets become plain entries, and a set that is
/// only `{t:1, [inner]}` is replaced by that inner set.
fn normalize(set: &mut QuorumSet) {
    let mut kept = Vec::new();
    for mut q in std::mem::take(&mut set.inner) {
        normalize(&mut q);
        if q.threshold == 1 && q.validators.len() == 1 && q.inner.is_empty() {
            set.validators.extend(q.validators);
        } else {
            kept.push(q);
        }
    }
    set.inner = kept;
    if set.threshold == 1 && set.validators.is_empty() && set.inner.len() == 1 {
        *set = set.inner.remove(0);
    }
    set.validators.sort();
}

/// The set every active validator derives. Each one adds itself ("self") with its home domain's
/// quality and lists the others, so all of them derive the same set; it is printed with the
/// validators' names, self included.
pub(crate) fn derive(inv: &StellarInventory) -> QuorumSet {
    let mut entries: Vec<Entry<'_>> = inv
        .active()
        .map(|v| {
            let org = inv.organisation_of(v);
            Entry {
                name: &v.name,
                home_domain: &org.home_domain,
                quality: org.quality,
            }
        })
        .collect();
    entries.sort_by(|a, b| {
        b.quality
            .cmp(&a.quality)
            .then(a.home_domain.cmp(b.home_domain))
            .then(a.name.cmp(b.name))
    });
    let mut set = level(&entries, 0);
    normalize(&mut set);
    set
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum QuorumError {
    #[error(
        "no validator is active (all are suspended or none is listed); there is nothing to configure"
    )]
    NoValidators,
    #[error(
        "organisation {organisation} ({home_domain}) is {quality} with {count} active validator(s) ({names}); stellar-core requires at least 3 per home domain for HIGH and CRITICAL (\"must have redundancy of at least 3\"); add validators or lower the quality"
    )]
    TooFewForHigh {
        organisation: String,
        home_domain: String,
        quality: &'static str,
        count: usize,
        names: String,
    },
    #[error(
        "validator {validator} of organisation {organisation} ({quality}) has no `history`; stellar-core requires a HISTORY archive for every HIGH and CRITICAL validator"
    )]
    MissingHistory {
        validator: String,
        organisation: String,
        quality: &'static str,
    },
    #[error("every organisation is LOW; a validating node needs at least one validator above LOW")]
    AllLow,
    #[error(
        "the derived quorum set {set} has {top_level} top-level entities and threshold {threshold}: it tolerates 0 failures, and stellar-core refuses to start (FAILURE_SAFETY=0) unless `unsafe_quorum: true` is set; production needs at least 4 organisations"
    )]
    Unsafe {
        set: String,
        top_level: usize,
        threshold: usize,
    },
    #[error(
        "{0}; stellar-core refuses to start (\"SCP unsafe\") unless `unsafe_quorum: true` is set; add `history` to more validators"
    )]
    ArchivesNotVBlocking(ArchivesNotVBlocking),
}

/// A validator whose archive peers (the other validators with `history`) do not intersect every
/// slice. Core throws "SCP unsafe" for it without UNSAFE_QUORUM, and with it only logs "Quorum can
/// be reached without validators with an archive" (C l.978-1003), so it is an error or a warning.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "validator {validator}: the history archives it sees ({archives}) do not intersect every slice of {set}"
)]
pub(crate) struct ArchivesNotVBlocking {
    pub(crate) validator: String,
    pub(crate) archives: String,
    pub(crate) set: String,
}

/// What core accepts but warns about at startup; `check` prints these and `render` logs them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum QuorumWarning {
    #[error(
        "{0}; stellar-core starts only because UNSAFE_QUORUM=true and warns \"Quorum can be reached without validators with an archive\"; add `history` to more validators"
    )]
    ArchivesNotVBlocking(ArchivesNotVBlocking),
}

/// Every startup check, reported together so one run shows everything to fix; each finding on its
/// own `error:` line, as the binary prints the first.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\nerror: "))]
pub(crate) struct QuorumErrors(pub(crate) Vec<QuorumError>);

/// The derived set and what was checked, for `peergen check`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Analysis {
    pub(crate) set: QuorumSet,
    pub(crate) failure_safety: usize,
    pub(crate) warnings: Vec<QuorumWarning>,
}

pub(crate) fn analyse(inv: &StellarInventory) -> Result<Analysis, QuorumErrors> {
    let active: Vec<&Validator> = inv.active().collect();
    if active.is_empty() {
        return Err(QuorumErrors(vec![QuorumError::NoValidators]));
    }
    let mut errors = Vec::new();
    let mut by_org: BTreeMap<&str, Vec<&Validator>> = BTreeMap::new();
    for v in &active {
        by_org.entry(&v.organisation).or_default().push(v);
    }
    for (name, members) in &by_org {
        let org = &inv.organisations[*name];
        if org.quality < Quality::High {
            continue;
        }
        if members.len() < 3 {
            errors.push(QuorumError::TooFewForHigh {
                organisation: org.name.clone(),
                home_domain: org.home_domain.clone(),
                quality: org.quality.as_str(),
                count: members.len(),
                names: members
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        for v in members.iter().filter(|v| v.history.is_none()) {
            errors.push(QuorumError::MissingHistory {
                validator: v.name.clone(),
                organisation: org.name.clone(),
                quality: org.quality.as_str(),
            });
        }
    }
    if by_org
        .keys()
        .all(|o| inv.organisations[*o].quality == Quality::Low)
    {
        errors.push(QuorumError::AllLow);
    }
    let set = derive(inv);
    let failure_safety = set.failure_safety();
    if failure_safety == 0 && !inv.unsafe_quorum {
        errors.push(QuorumError::Unsafe {
            set: set.to_string(),
            top_level: set.size(),
            threshold: set.threshold,
        });
    }
    let mut warnings = Vec::new();
    for v in &active {
        let archives: BTreeSet<&str> = active
            .iter()
            .filter(|o| o.name != v.name && o.history.is_some())
            .map(|o| o.name.as_str())
            .collect();
        if !set.is_v_blocking(&archives) {
            let finding = ArchivesNotVBlocking {
                validator: v.name.clone(),
                archives: if archives.is_empty() {
                    "none".to_owned()
                } else {
                    archives.iter().copied().collect::<Vec<_>>().join(", ")
                },
                set: set.to_string(),
            };
            if inv.unsafe_quorum {
                warnings.push(QuorumWarning::ArchivesNotVBlocking(finding));
            } else {
                errors.push(QuorumError::ArchivesNotVBlocking(finding));
            }
        }
    }
    if errors.is_empty() {
        Ok(Analysis {
            set,
            failure_safety,
            warnings,
        })
    } else {
        Err(QuorumErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(spec: &[(&'static str, &'static str, Quality)]) -> QuorumSet {
        let mut e: Vec<Entry<'_>> = spec
            .iter()
            .map(|(n, d, q)| Entry {
                name: n,
                home_domain: d,
                quality: *q,
            })
            .collect();
        e.sort_by(|a, b| {
            b.quality
                .cmp(&a.quality)
                .then(a.home_domain.cmp(b.home_domain))
                .then(a.name.cmp(b.name))
        });
        let mut s = level(&e, 0);
        normalize(&mut s);
        s
    }

    #[test]
    fn worked_example_set() {
        let s = entries(&[
            ("alpha-1", "a", Quality::Medium),
            ("alpha-2", "a", Quality::Medium),
            ("beta-1", "b", Quality::Medium),
        ]);
        assert_eq!(
            s.to_string(),
            "{t:2, v:[beta-1], inner:[{t:2, v:[alpha-1, alpha-2]}]}"
        );
        assert_eq!(s.failure_safety(), 0);
    }

    #[test]
    fn lower_levels_nest_as_one_entry() {
        use Quality::*;
        let s = entries(&[
            ("a1", "a", High),
            ("a2", "a", High),
            ("a3", "a", High),
            ("b1", "b", High),
            ("b2", "b", High),
            ("b3", "b", High),
            ("c1", "c", High),
            ("c2", "c", High),
            ("c3", "c", High),
            ("m1", "m", Medium),
            ("n1", "n", Medium),
        ]);
        assert_eq!(
            s.to_string(),
            "{t:3, v:[], inner:[{t:2, v:[a1, a2, a3]}, {t:2, v:[b1, b2, b3]}, {t:2, v:[c1, c2, c3]}, {t:2, v:[m1, n1]}]}"
        );
        assert_eq!(s.failure_safety(), 1);
    }

    #[test]
    fn critical_is_all_required() {
        use Quality::*;
        let s = entries(&[
            ("a1", "a", Critical),
            ("a2", "a", Critical),
            ("a3", "a", Critical),
            ("b1", "b", Critical),
            ("b2", "b", Critical),
            ("b3", "b", Critical),
        ]);
        assert_eq!(s.threshold, 2);
        assert_eq!(s.failure_safety(), 0);
    }

    #[test]
    fn v_blocking() {
        let s = entries(&[
            ("alpha-1", "a", Quality::Medium),
            ("alpha-2", "a", Quality::Medium),
            ("beta-1", "b", Quality::Medium),
        ]);
        assert!(s.is_v_blocking(&BTreeSet::from(["beta-1"])));
        assert!(s.is_v_blocking(&BTreeSet::from(["alpha-2"])));
        assert!(!s.is_v_blocking(&BTreeSet::new()));
        let four = entries(&[
            ("a", "a", Quality::Medium),
            ("b", "b", Quality::Medium),
            ("c", "c", Quality::Medium),
            ("d", "d", Quality::Medium),
        ]);
        assert_eq!(four.threshold, 3);
        assert!(!four.is_v_blocking(&BTreeSet::from(["a"])));
        assert!(four.is_v_blocking(&BTreeSet::from(["a", "b"])));
    }
}
