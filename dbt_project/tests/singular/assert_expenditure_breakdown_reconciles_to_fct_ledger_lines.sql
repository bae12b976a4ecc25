-- The breakdown of each year and service line adds up to the published
-- ledger lines' spend (INCOME excluded), category by category.
with

breakdown as (

    select * from {{ ref('mart_expenditure_breakdown') }}

),

ledger_lines as (

    select * from {{ ref('fct_ledger_lines') }}

),

spend as (

    select
        financial_year,
        service_line,
        expenditure_category,
        sum(amount) as amount

    from ledger_lines
    where expenditure_category <> 'INCOME'
    group by
        financial_year,
        service_line,
        expenditure_category

),

final as (

    select
        coalesce(breakdown.financial_year, spend.financial_year)
            as financial_year,
        coalesce(breakdown.service_line, spend.service_line)
            as service_line,
        coalesce(
            breakdown.expenditure_category, spend.expenditure_category
        ) as expenditure_category,
        breakdown.amount as published_amount,
        spend.amount as ledger_amount

    from breakdown
    full outer join spend
        on breakdown.financial_year = spend.financial_year
        and breakdown.service_line = spend.service_line
        and breakdown.expenditure_category = spend.expenditure_category
    where breakdown.amount is null
        or spend.amount is null
        or breakdown.amount <> spend.amount

)

select * from final
