-- Budget against spend per fund strand, with the money that crossed
-- between the core and outreach strands shown beside it
-- (int_ledger_lines_activity_classified): activity_adjusted_spend is what
-- the strand's own work cost, whoever paid for it.
with

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

fund_strands as (

    select * from {{ ref('ref_fund_strands') }}

),

ledger_totals as (

    select * from {{ ref('int_ledger_lines_aggregated_to_periods') }}

),

pension_allocations as (

    select * from {{ ref('int_pension_funding_allocated') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

strand_spend as (

    select
        sla_code,
        financial_year,
        fund_strand,
        sum(amount) as spend,
        sum(case when activity_fund_strand = 'CORE' then amount else 0 end)
            as spend_on_core_activity,
        sum(
            case when activity_fund_strand = 'OUTREACH' then amount else 0 end
        ) as spend_on_outreach_activity,
        sum(
            case when activity_fund_strand = 'TRADED' then amount else 0 end
        ) as spend_on_traded_activity,
        sum(case when activity_fund_strand is null then amount else 0 end)
            as spend_on_unspecified_activity,
        sum(case when activity_fund_strand is null then line_count else 0 end)
            as unclassified_line_count,
        sum(case when is_outreach_on_core then amount else 0 end)
            as outreach_spent_on_core,
        sum(case when is_core_on_outreach then amount else 0 end)
            as core_spent_on_outreach

    from ledger_totals
    group by
        sla_code,
        financial_year,
        fund_strand

),

crossings as (

    select
        sla_code,
        financial_year,
        sum(outreach_spent_on_core) as outreach_spent_on_core,
        sum(core_spent_on_outreach) as core_spent_on_outreach

    from strand_spend
    group by
        sla_code,
        financial_year

),

grid as (

    select
        budgets.sla_code,
        budgets.financial_year,
        fund_strands.fund_strand,
        fund_strands.is_budgeted,
        case fund_strands.fund_strand
            when 'CORE' then budgets.core_budget
            when 'OUTREACH' then budgets.outreach_budget
            when 'PENSION'
                then coalesce(pension_allocations.pension_allocation, 0)
            else 0
        end as budget

    from budgets
    cross join fund_strands
    left join pension_allocations
        on budgets.sla_code = pension_allocations.sla_code
        and budgets.financial_year = pension_allocations.financial_year

),

separated as (

    select
        grid.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        grid.financial_year,
        grid.fund_strand,
        grid.is_budgeted,
        cast(grid.budget as decimal(18, 2)) as budget,
        cast(coalesce(strand_spend.spend, 0) as decimal(18, 2)) as spend,
        cast(
            grid.budget - coalesce(strand_spend.spend, 0) as decimal(18, 2)
        ) as variance,
        cast(
            coalesce(strand_spend.spend_on_core_activity, 0)
            as decimal(18, 2)
        ) as spend_on_core_activity,
        cast(
            coalesce(strand_spend.spend_on_outreach_activity, 0)
            as decimal(18, 2)
        ) as spend_on_outreach_activity,
        cast(
            coalesce(strand_spend.spend_on_traded_activity, 0)
            as decimal(18, 2)
        ) as spend_on_traded_activity,
        cast(
            coalesce(strand_spend.spend_on_unspecified_activity, 0)
            as decimal(18, 2)
        ) as spend_on_unspecified_activity,
        cast(
            coalesce(strand_spend.unclassified_line_count, 0) as integer
        ) as unclassified_line_count,
        coalesce(strand_spend.unclassified_line_count, 0) = 0
            as is_activity_fully_classified,
        cast(
            coalesce(strand_spend.outreach_spent_on_core, 0)
            as decimal(18, 2)
        ) as outreach_spent_on_core,
        cast(
            coalesce(strand_spend.core_spent_on_outreach, 0)
            as decimal(18, 2)
        ) as core_spent_on_outreach,
        cast(
            coalesce(strand_spend.spend, 0)
            + case grid.fund_strand
                when 'CORE' then
                    coalesce(crossings.outreach_spent_on_core, 0)
                    - coalesce(crossings.core_spent_on_outreach, 0)
                when 'OUTREACH' then
                    coalesce(crossings.core_spent_on_outreach, 0)
                    - coalesce(crossings.outreach_spent_on_core, 0)
                else 0
            end as decimal(18, 2)
        ) as activity_adjusted_spend

    from grid
    inner join slas
        on grid.sla_code = slas.sla_code
    left join strand_spend
        on grid.sla_code = strand_spend.sla_code
        and grid.financial_year = strand_spend.financial_year
        and grid.fund_strand = strand_spend.fund_strand
    left join crossings
        on grid.sla_code = crossings.sla_code
        and grid.financial_year = crossings.financial_year

),

final as (

    select
        *,
        cast(budget - activity_adjusted_spend as decimal(18, 2))
            as activity_adjusted_variance

    from separated

)

select * from final
