//! Keeps secret values out of everything ferry shows or stores: plans, diffs, command
//! output, errors and the persisted state all pass through [`Redactor::redact`].

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
}

pub const MASK: &str = "[secret]";

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a String>) -> Self {
        // Longest first, so a secret that contains another is masked whole. Very short
        // values would mask innocent text everywhere; they are still never printed by
        // ferry itself, only possibly echoed by user commands.
        let mut values: Vec<String> = secrets
            .into_iter()
            .filter(|v| v.len() >= 3)
            .cloned()
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { values }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    pub fn redact_in_place(&self, text: &mut String) {
        if !self.values.is_empty() {
            *text = self.redact(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let secrets = [
            "hunter2".to_owned(),
            "hunter2-extra".to_owned(),
            "ab".to_owned(),
        ];
        let r = Redactor::new(&secrets);
        assert_eq!(
            r.redact("pw=hunter2-extra and hunter2, ab"),
            "pw=[secret] and [secret], ab"
        );
    }
}
