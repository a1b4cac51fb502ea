//! Release versions and their tags: `vX.Y.Z[-pre.N]`, semver ordering, bumps.
//!
//! One place decides what a release tag is, so `release`, `rollback` and `changelog` agree on
//! which tags count (a stray `v1.0` or `nightly` tag is not a release).

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context};
use semver::{Prerelease, Version};

/// What `--bump` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

/// `--pre`: the pre-release channel; numbered `-alpha.1`, `-alpha.2`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pre {
    Alpha,
    Beta,
    Rc,
}

impl Pre {
    fn as_str(self) -> &'static str {
        match self {
            Pre::Alpha => "alpha",
            Pre::Beta => "beta",
            Pre::Rc => "rc",
        }
    }
}

/// A released version. Build metadata is refused: semver ignores it for ordering, so two
/// releases could differ only by it and be "equal".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseVersion(pub Version);

impl ReleaseVersion {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        let v = Version::parse(s.strip_prefix('v').unwrap_or(s))
            .with_context(|| format!("`{s}` is not a semantic version like 1.2.3 or 1.2.3-rc.1"))?;
        if !v.build.is_empty() {
            bail!(
                "`{s}` has build metadata (`+{}`), which releases do not use",
                v.build
            );
        }
        Ok(Self(v))
    }

    /// `Some` when `tag` is exactly a release tag (`v` + semver without build metadata).
    /// Never panics, whatever the input.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let rest = tag.strip_prefix('v')?;
        // `Version::parse` accepts a leading `v`? It does not, but refuse `vv1.0.0` explicitly.
        if rest.starts_with('v') {
            return None;
        }
        let v = Version::parse(rest).ok()?;
        v.build.is_empty().then_some(Self(v))
    }

    pub fn tag(&self) -> String {
        format!("v{}", self.0)
    }

    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// The next version: `bump` from the last release, then a pre-release on `pre` if asked.
    ///
    /// From a pre-release, the bump that lands on its own base finishes it (1.2.0-rc.1 with
    /// `minor` → 1.2.0), and the same channel counts up (1.2.0-rc.1 + `--pre rc` → 1.2.0-rc.2),
    /// the way cargo-release and npm do it.
    pub fn next(&self, bump: Option<Bump>, pre: Option<Pre>) -> anyhow::Result<Self> {
        let cur = &self.0;
        let base = Version::new(cur.major, cur.minor, cur.patch);
        let bumped = match bump {
            None if pre.is_some() && !cur.pre.is_empty() => base.clone(),
            None if pre.is_some() => bump_of(&base, Bump::Patch, false),
            None => bail!("say how to bump: --bump patch|minor|major, or --version X.Y.Z"),
            Some(b) => bump_of(&base, b, !cur.pre.is_empty()),
        };
        let mut next = bumped;
        if let Some(p) = pre {
            next.pre = next_pre(cur, &next, p)?;
        }
        let next = Self(next);
        if next <= *self {
            bail!(
                "{} is not greater than {}; pass a larger --bump or an explicit --version",
                next,
                self
            );
        }
        Ok(next)
    }
}

fn bump_of(base: &Version, bump: Bump, from_pre: bool) -> Version {
    // A pre-release of X.Y.Z finishes at X.Y.Z when the bump lands on it (1.2.0-rc.1 → 1.2.0
    // with minor, 2.0.0-beta.1 → 2.0.0 with major).
    let lands = match bump {
        Bump::Patch => true,
        Bump::Minor => base.patch == 0,
        Bump::Major => base.patch == 0 && base.minor == 0,
    };
    if from_pre && lands {
        return base.clone();
    }
    match bump {
        Bump::Patch => Version::new(base.major, base.minor, base.patch + 1),
        Bump::Minor => Version::new(base.major, base.minor + 1, 0),
        Bump::Major => Version::new(base.major + 1, 0, 0),
    }
}

fn next_pre(cur: &Version, next: &Version, pre: Pre) -> anyhow::Result<Prerelease> {
    let same_base = (cur.major, cur.minor, cur.patch) == (next.major, next.minor, next.patch);
    let mut n = 1u64;
    if same_base {
        if let Some((chan, num)) = cur.pre.as_str().split_once('.') {
            if chan == pre.as_str() {
                n = num.parse::<u64>().map_or(1, |x| x + 1);
            }
        }
    }
    Ok(Prerelease::new(&format!("{}.{n}", pre.as_str()))?)
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ReleaseVersion {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Self::parse(s)
    }
}

/// Release versions among `tags`, highest first.
pub fn release_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<ReleaseVersion> {
    let mut v: Vec<_> = tags
        .into_iter()
        .filter_map(ReleaseVersion::from_tag)
        .collect();
    v.sort();
    v.dedup();
    v.reverse();
    v
}

/// The highest stable version in `versions`: the only one GitHub should call "latest".
pub fn highest_stable<'a>(
    versions: impl IntoIterator<Item = &'a ReleaseVersion>,
) -> Option<&'a ReleaseVersion> {
    versions.into_iter().filter(|v| !v.is_prerelease()).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ReleaseVersion {
        ReleaseVersion::parse(s).unwrap()
    }

    #[test]
    fn bumps() {
        let cases = [
            ("1.2.3", Some(Bump::Patch), None, "1.2.4"),
            ("1.2.3", Some(Bump::Minor), None, "1.3.0"),
            ("1.2.3", Some(Bump::Major), None, "2.0.0"),
            ("1.2.3", Some(Bump::Minor), Some(Pre::Rc), "1.3.0-rc.1"),
            ("1.3.0-rc.1", None, Some(Pre::Rc), "1.3.0-rc.2"),
            ("1.3.0-beta.2", None, Some(Pre::Rc), "1.3.0-rc.1"),
            ("1.3.0-rc.2", Some(Bump::Minor), None, "1.3.0"),
            ("1.3.0-rc.2", Some(Bump::Patch), None, "1.3.0"),
            ("1.3.0-rc.2", Some(Bump::Major), None, "2.0.0"),
            ("2.0.0-rc.1", Some(Bump::Major), None, "2.0.0"),
            ("1.2.3", None, Some(Pre::Alpha), "1.2.4-alpha.1"),
        ];
        for (from, bump, pre, want) in cases {
            assert_eq!(
                v(from).next(bump, pre).unwrap(),
                v(want),
                "{from} {bump:?} {pre:?}"
            );
        }
    }

    #[test]
    fn rc_to_beta_on_the_same_base_goes_backwards_and_is_refused() {
        let err = v("1.3.0-rc.1").next(None, Some(Pre::Beta)).unwrap_err();
        assert!(err.to_string().contains("not greater"), "{err}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn version() -> impl Strategy<Value = ReleaseVersion> {
            let pre = prop_oneof![
                Just(String::new()),
                (
                    prop_oneof![Just("alpha"), Just("beta"), Just("rc")],
                    1u64..20
                )
                    .prop_map(|(c, n)| format!("{c}.{n}")),
            ];
            (0u64..50, 0u64..50, 0u64..50, pre).prop_map(|(a, b, c, p)| {
                let s = if p.is_empty() {
                    format!("{a}.{b}.{c}")
                } else {
                    format!("{a}.{b}.{c}-{p}")
                };
                ReleaseVersion::parse(&s).unwrap()
            })
        }

        fn bump() -> impl Strategy<Value = Option<Bump>> {
            prop_oneof![
                Just(None),
                Just(Some(Bump::Patch)),
                Just(Some(Bump::Minor)),
                Just(Some(Bump::Major))
            ]
        }

        fn pre() -> impl Strategy<Value = Option<Pre>> {
            prop_oneof![
                Just(None),
                Just(Some(Pre::Alpha)),
                Just(Some(Pre::Beta)),
                Just(Some(Pre::Rc))
            ]
        }

        proptest! {
            #[test]
            fn display_parse_and_tag_round_trip(v in version()) {
                prop_assert_eq!(ReleaseVersion::parse(&v.to_string()).unwrap(), v.clone());
                prop_assert_eq!(ReleaseVersion::from_tag(&v.tag()), Some(v));
            }

            #[test]
            fn ordering_agrees_with_semver(a in version(), b in version()) {
                prop_assert_eq!(a.cmp(&b), a.0.cmp(&b.0));
                prop_assert_eq!(a.cmp(&b), semver::Version::parse(&a.to_string()).unwrap().cmp(&semver::Version::parse(&b.to_string()).unwrap()));
            }

            #[test]
            fn bumps_always_increase(v in version(), b in bump(), p in pre()) {
                // Refusals are allowed (no bump asked, or a channel that goes backwards);
                // a result is always strictly greater.
                if let Ok(next) = v.next(b, p) {
                    prop_assert!(next > v, "{} -> {}", v, next);
                    prop_assert_eq!(next.is_prerelease(), p.is_some());
                }
                if b.is_some() && p.is_none() {
                    prop_assert!(v.next(b, p).is_ok());
                }
            }

            #[test]
            fn is_release_tag_never_panics(s in ".*") {
                let _ = ReleaseVersion::from_tag(&s);
                let _ = ReleaseVersion::parse(&s);
            }

            #[test]
            fn release_tags_are_exactly_v_plus_semver(s in "v?(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2}))?(-rc\\.[0-9])?(\\+b)?") {
                let expect = s.starts_with('v') && !s.contains('+') && s.matches('.').count() >= 2 + usize::from(s.contains("-rc"));
                prop_assert_eq!(ReleaseVersion::from_tag(&s).is_some(), expect, "{}", s);
            }
        }
    }

    #[test]
    fn tags() {
        assert_eq!(ReleaseVersion::from_tag("v1.2.3"), Some(v("1.2.3")));
        assert_eq!(
            ReleaseVersion::from_tag("v1.2.3-rc.1"),
            Some(v("1.2.3-rc.1"))
        );
        for bad in [
            "1.2.3",
            "v1.2",
            "vv1.2.3",
            "v1.2.3+build",
            "nightly",
            "",
            "v",
        ] {
            assert_eq!(ReleaseVersion::from_tag(bad), None, "{bad}");
        }
        let tags = release_tags(["v1.0.0", "v1.2.0-rc.1", "junk", "v1.1.0", "v1.2.0"]);
        assert_eq!(tags[0], v("1.2.0"));
        assert_eq!(tags[1], v("1.2.0-rc.1"));
        assert_eq!(
            highest_stable(&[v("1.0.0"), v("2.0.0-rc.1")]),
            Some(&v("1.0.0"))
        );
    }
}
