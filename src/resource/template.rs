//! Rendering `template` resources with minijinja. Variables: the environment's `vars`
//! (overridden by the host's), secrets by name, `host` (name, address, port, user, roles),
//! `facts` (what explore found: os, arch, hostname, ...) and `environment` (its name).
//! An undefined variable is an error, never an empty string.

use minijinja::{Environment, UndefinedBehavior, Value};

use super::HostContext;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Keep the text byte-for-byte: a config file's final newline matters.
    env.set_keep_trailing_newline(true);
    env
}

/// Checks the template's syntax alone (variables are only known per host).
pub fn syntax_check(text: &str) -> Result<(), String> {
    environment()
        .template_from_str(text)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

pub fn render(text: &str, ctx: &HostContext) -> Result<String, String> {
    let mut values: std::collections::BTreeMap<String, Value> = ctx
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_serialize(v)))
        .collect();
    for (k, v) in ctx.secrets {
        values.insert(k.clone(), Value::from(v.clone()));
    }
    values.insert(
        "host".into(),
        Value::from_serialize(serde_json::json!({
            "name": ctx.host.name, "address": ctx.host.address, "port": ctx.host.port,
            "user": ctx.host.user, "roles": ctx.host.roles,
        })),
    );
    values.insert("facts".into(), Value::from_serialize(ctx.facts));
    values.insert("environment".into(), Value::from(ctx.environment));
    let env = environment();
    let template = env.template_from_str(text).map_err(|e| describe(&e))?;
    template
        .render(Value::from_serialize(&values))
        .map_err(|e| describe(&e))
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    if let Some(detail) = e.detail() {
        if !text.contains(detail) {
            text.push_str(&format!(": {detail}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::with_ctx;

    #[test]
    fn renders_vars_host_and_facts() {
        let out = with_ctx(&[("os", "Linux")], |ctx| {
            render("{{ host.name }} {{ facts.os }} {{ port }}\n", ctx)
        })
        .unwrap();
        assert_eq!(out, "local Linux 8080\n");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let e = with_ctx(&[], |ctx| render("{{ prot }}", ctx)).unwrap_err();
        assert!(e.contains("undefined"), "{e}");
    }

    #[test]
    fn syntax_errors_are_found_early() {
        assert!(syntax_check("{% if x %}").is_err());
        assert!(syntax_check("{{ x }}").is_ok());
    }
}
