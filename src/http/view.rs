//! Small response pieces shared by several endpoints.

use serde::Serialize;

use crate::ident::SubjectId;
use crate::snapshot::Snapshot;

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Subject)]
pub struct SubjectView {
    pub id: String,
    pub kind: &'static str,
    /// The kind in Chinese (企业, 机关, 事业单位, …).
    pub kind_label: &'static str,
    pub id_type: &'static str,
}

pub fn subject_view(subject: &SubjectId) -> SubjectView {
    SubjectView {
        id: subject.as_str().to_owned(),
        kind: subject.kind().as_str(),
        kind_label: subject.kind().label(),
        id_type: subject.id_type().as_str(),
    }
}

/// The rule set a decision was made under.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RuleSet)]
pub struct RuleSetView<'a> {
    pub name: &'a str,
    pub revision: &'a str,
}

impl<'a> RuleSetView<'a> {
    pub fn of(snapshot: &'a Snapshot) -> RuleSetView<'a> {
        RuleSetView {
            name: &snapshot.rules.name,
            revision: &snapshot.rules.revision,
        }
    }
}
