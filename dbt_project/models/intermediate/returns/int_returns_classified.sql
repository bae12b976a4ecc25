-- Rule: the status of each scheduled return, judged at the as-of date
-- (var as_of_date, else env STLS_AS_OF_DATE, else today), first match wins:
--   ACCEPTED  a current accepted version exists;
--   REJECTED  files were received but none accepted;
--   WAIVED    nothing received and the return is waived now
--             (int_return_waivers_current: ref_return_waivers, or a waiver
--             granted in the returns service and not revoked since);
--   OVERDUE   nothing received and the due date is before the as-of date;
--   MISSING   otherwise (not yet due, or due on the as-of date itself).
-- A waived return counts as in for completeness even when a rejected file
-- was sent (is_waived is kept beside the status).
with

scheduled as (

    select * from {{ ref('int_returns_scheduled') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

waivers as (

    select * from {{ ref('int_return_waivers_current') }}

),

joined as (

    select
        scheduled.*,
        coalesce(submissions.versions_received, 0) as versions_received,
        submissions.current_file_sha256,
        submissions.current_version,
        submissions.received_at,
        submissions.current_file_sha256 is not null
            as has_accepted_version,
        waivers.sla_code is not null as is_waived,
        waivers.waiver_reason,
        waivers.waived_by,
        waivers.waived_at,
        waivers.waiver_source

    from scheduled
    left join submissions
        on scheduled.sla_code = submissions.sla_code
        and scheduled.return_type = submissions.return_type
        and scheduled.period_key = submissions.period_key
    left join waivers
        on scheduled.sla_code = waivers.sla_code
        and scheduled.return_type = waivers.return_type
        and scheduled.period_key = waivers.period_key

),

final as (

    select
        *,
        case
            when has_accepted_version then 'ACCEPTED'
            when versions_received > 0 then 'REJECTED'
            when is_waived then 'WAIVED'
            when due_date < {{ as_of_date() }} then 'OVERDUE'
            else 'MISSING'
        end as status,
        {{ as_of_date() }} as status_as_of

    from joined

)

select * from final
