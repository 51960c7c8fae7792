//! The monthly indicators: the lists of the current snapshot, what the list source keeps of
//! their past, and the register's figures and uploaded counts, handed to
//! [`indicators::compute`]. Blocking: the caller runs it off the async workers.

use super::{AppError, Service};
use crate::indicators::{self, Indicators, Inputs, Month, Spans, A_GRADE_LIST};
use crate::keys::Caller;
use crate::register::report;
use crate::register::{ActiveEnterprises, CallerRecord, StoreError};
use crate::timestamp::Timestamp;

fn unavailable(err: StoreError) -> AppError {
    AppError::RegisterUnavailable(err.to_string())
}

/// Why the figures from the register cannot be given.
const REGISTER_OFF: &str = "the query register is off";

impl Service {
    /// The indicators of `month`, computed at `now` (blocking).
    pub fn indicators(&self, month: Month, now: Timestamp) -> Result<Indicators, AppError> {
        let snapshot = self.snapshot()?;
        let history = (self.snapshots.lists().history())
            .map_err(|err| AppError::SourceUnavailable(err.to_string()))?;
        let spans = Spans::gather(&snapshot.rules, &snapshot.lists, history.as_ref());
        let (register, active_enterprises) = match &self.register {
            Some(register) => {
                let store = register.store();
                let figures = report::register_figures(store, month.start(), month.end());
                let active = store.active_enterprises(&month.to_string());
                (
                    Ok(figures.map_err(unavailable)?),
                    Ok(active.map_err(unavailable)?),
                )
            }
            None => (Err(REGISTER_OFF.to_owned()), Err(REGISTER_OFF.to_owned())),
        };
        Ok(indicators::compute(Inputs {
            month,
            now,
            ruleset_revision: snapshot.rules.revision.clone(),
            lists_version: snapshot.lists_version,
            spans,
            a_grade_list: snapshot.rules.list_id(A_GRADE_LIST).is_some(),
            history,
            register,
            active_enterprises,
        }))
    }

    /// Stores the count of active enterprises of `month`, replacing the month's earlier one
    /// (blocking). `None` when the register is off.
    pub fn put_active_enterprises(
        &self,
        month: Month,
        count: u64,
        caller: Option<&Caller>,
    ) -> Option<Result<ActiveEnterprises, AppError>> {
        let register = self.register.as_ref()?;
        let stored = ActiveEnterprises {
            month: month.to_string(),
            count,
            uploaded_at: Timestamp::now().to_string(),
            caller: caller.map(CallerRecord::of),
        };
        Some(
            (register.store().put_active_enterprises(&stored))
                .map(|()| stored)
                .map_err(unavailable),
        )
    }
}
