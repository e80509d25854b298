-- The accumulating snapshot: one row per complaint, the time it entered each status and the
-- seconds it spent there, built from the silver change history. A status change is one load
-- run's pair of history rows (status, status_changed_at); the first status is the one the
-- first change left (or the current one, when the complaint never changed), entered at its
-- status_changed_at. Time in the current status is still running, so it is NULL.
with complaints as (
    select complaint_id, opened_at, status, status_changed_at
    from {{ source('silver', 'conformed_complaints') }}
),

changes as (
    select
        complaint_id,
        run_id,
        min(history_id) as seq,
        max(old_value) filter (where column_name = 'status') as old_status,
        max(new_value) filter (where column_name = 'status') as new_status,
        max(old_value) filter (where column_name = 'status_changed_at') as old_at,
        max(new_value) filter (where column_name = 'status_changed_at') as new_at
    from {{ source('silver', 'conformed_complaints_history') }}
    where column_name in ('status', 'status_changed_at')
    group by complaint_id, run_id
    having count(*) filter (where column_name = 'status') = 1
),

firsts as (
    select distinct on (complaint_id) complaint_id, old_status, old_at
    from changes
    order by complaint_id, seq
),

episodes as (
    select c.complaint_id, 0::bigint as seq,
        coalesce(f.old_status, c.status) as status,
        coalesce(f.old_at::timestamptz, c.status_changed_at, c.opened_at) as entered_at
    from complaints c
    left join firsts f using (complaint_id)
    union all
    select ch.complaint_id, ch.seq, ch.new_status, ch.new_at::timestamptz
    from changes ch
    join complaints c using (complaint_id)
),

timed as (
    select
        complaint_id,
        status,
        entered_at,
        lead(entered_at) over (partition by complaint_id order by seq) - entered_at as spent
    from episodes
)

select
    c.complaint_id,
    c.status as current_status,
    c.opened_at,
    min(t.entered_at) filter (where t.status = 'in_progress') as in_progress_at,
    min(t.entered_at) filter (where t.status = 'escalated') as escalated_at,
    min(t.entered_at) filter (where t.status = 'resolved') as resolved_at,
    min(t.entered_at) filter (where t.status = 'closed') as closed_at,
    {% for s in ['open', 'in_progress', 'escalated', 'resolved'] %}
    extract(epoch from sum(t.spent) filter (where t.status = '{{ s }}'))::bigint as seconds_{{ s }},
    {% endfor %}
    count(*) - 1 as status_changes
from complaints c
join timed t using (complaint_id)
group by c.complaint_id, c.status, c.opened_at
