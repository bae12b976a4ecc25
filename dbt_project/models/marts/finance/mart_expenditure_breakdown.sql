-- share_pct: 100 * amount / the line's year total of non-INCOME spend,
-- rounded half away from zero to one decimal, computed in whole pennies
-- and tenths of a percent (integers) so no binary floating point is
-- involved: tenths = floor((2000 * |pennies| + total) / (2 * total)).
-- Null when the year total is not positive.
with

ledger_lines as (

    select * from {{ ref('int_ledger_lines_categorised') }}

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

with_totals as (

    select
        *,
        sum(amount) over (
            partition by financial_year, service_line
        ) as line_year_total

    from spend

),

in_pennies as (

    select
        *,
        {{ to_pennies('amount') }} as amount_pennies,
        {{ to_pennies('line_year_total') }} as total_pennies

    from with_totals

),

shares as (

    select
        *,
        case
            when total_pennies <= 0 then null
            else {{ divide_round_half_up(
                '1000 * amount_pennies', 'total_pennies'
            ) }}
        end as share_tenths

    from in_pennies

),

final as (

    select
        financial_year,
        service_line,
        expenditure_category,
        cast(amount as decimal(18, 2)) as amount,
        cast(share_tenths * 0.1 as decimal(5, 1)) as share_pct,
        cast(line_year_total as decimal(18, 2)) as line_year_total

    from shares

)

select * from final
