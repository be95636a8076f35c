//! Reading ARM paths: what a path names (a resource, a collection) and its parent.
//!
//! ARM paths are case-insensitive: types are compared lower-cased, ids are stored under their
//! lower-cased form and answered with the casing of the request that created them.

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/subscriptions/{s}` itself.
    Subscription,
    /// A resource; `ty` is lower-cased, `type_name` keeps the request's casing.
    Resource { ty: String, type_name: String },
    /// A collection (a path ending in a type), e.g. `.../service/x/backends`.
    Collection { ty: String },
}

/// Parses `/subscriptions/{s}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}...]`.
pub fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    if segs.len() < 2 || !segs[0].eq_ignore_ascii_case("subscriptions") || segs.contains(&"") {
        return None;
    }
    let len = segs.len();
    let mut i = 2;
    let mut current: Option<String> = None;
    loop {
        if i >= len {
            return Some(match current {
                None => Target::Subscription,
                Some(t) => resource(t),
            });
        }
        if current.is_none() && segs[i].eq_ignore_ascii_case("resourceGroups") {
            let t = "Microsoft.Resources/resourceGroups".to_string();
            if i + 1 == len {
                return Some(collection(&t));
            }
            current = Some(t);
            i += 2;
            continue;
        }
        if !segs[i].eq_ignore_ascii_case("providers") || i + 2 >= len {
            return None;
        }
        let mut t = format!("{}/{}", segs[i + 1], segs[i + 2]);
        i += 2;
        loop {
            // segs[i] is a type; a name may follow.
            if i + 1 == len {
                return Some(collection(&t));
            }
            i += 2;
            if i >= len {
                return Some(resource(t));
            }
            if segs[i].eq_ignore_ascii_case("providers") {
                // An extension resource (roleAssignments) scoped to this one.
                current = Some(t);
                break;
            }
            t = format!("{t}/{}", segs[i]);
        }
    }
}

fn resource(type_name: String) -> Target {
    Target::Resource {
        ty: type_name.to_ascii_lowercase(),
        type_name,
    }
}

fn collection(type_name: &str) -> Target {
    Target::Collection {
        ty: type_name.to_ascii_lowercase(),
    }
}

/// The resource a resource or collection lives in; `None` when that is a subscription
/// (subscriptions always exist in the emulator).
pub fn parent(path: &str) -> Option<String> {
    let mut segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    // A collection path ends in a type: drop one segment; a resource: drop type and name.
    let drop = if matches!(parse(path), Some(Target::Collection { .. })) {
        1
    } else {
        2
    };
    segs.truncate(segs.len().saturating_sub(drop));
    let n = segs.len();
    if n >= 2 && segs[n - 2].eq_ignore_ascii_case("providers") {
        segs.truncate(n - 2);
    }
    if segs.len() <= 3 {
        return None; // "", "subscriptions", "{s}"
    }
    Some(segs.join("/"))
}

/// The last segment of a path.
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

/// `{s}` of `/subscriptions/{s}/...`.
pub fn subscription(path: &str) -> &str {
    path.split('/').nth(2).unwrap_or_default()
}

/// `{rg}` of `/subscriptions/{s}/resourceGroups/{rg}/...`.
pub fn resource_group(path: &str) -> Option<&str> {
    let segs: Vec<&str> = path.split('/').collect();
    (segs.len() > 4 && segs[3].eq_ignore_ascii_case("resourceGroups")).then(|| segs[4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_paths() {
        let svc = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a";
        assert_eq!(
            parse(svc),
            Some(Target::Resource {
                ty: "microsoft.apimanagement/service".into(),
                type_name: "Microsoft.ApiManagement/service".into()
            })
        );
        assert_eq!(
            parse(&format!("{svc}/backends")),
            Some(Target::Collection {
                ty: "microsoft.apimanagement/service/backends".into()
            })
        );
        assert!(matches!(
            parse("/subscriptions/s/resourcegroups"),
            Some(Target::Collection { .. })
        ));
        let ra = format!("{svc}/providers/Microsoft.Authorization/roleAssignments/g");
        assert!(
            matches!(parse(&ra), Some(Target::Resource { ty, .. }) if ty == "microsoft.authorization/roleassignments")
        );
        assert_eq!(parent(&ra).as_deref(), Some(svc));
        assert_eq!(
            parent(svc).as_deref(),
            Some("/subscriptions/s/resourceGroups/rg")
        );
        assert_eq!(parent("/subscriptions/s/resourceGroups/rg"), None);
        assert_eq!(parent(&format!("{svc}/backends")).as_deref(), Some(svc));
        assert!(parse("/nope").is_none());
    }
}
