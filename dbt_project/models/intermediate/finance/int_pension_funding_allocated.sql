-- Rule: a year's pension funding (ref_pension_funding: for the teachers'
-- pension employer contribution increase of September 2019, 16.48 % to
-- 23.68 %; the further rise to 28.68 % from April 2024 has its own grant
-- and is not modelled) is shared across the SLAs on the register that
-- year, in proportion to their allocation basis (ref_pension_allocation_bases,
-- the row in force on the year's first day):
--   PENSIONABLE_PAY  current ledger lines of the base year whose account
--                    code and fund strand are in ref_pensionable_pay_lines
--                    (default: E01 teacher pay on CORE, OUTREACH and PENSION,
--                    2021-22: "allocated based on actual staff costs");
--   DIRECT_STAFFING  DIRECT_STAFFING spend of the base year, all strands;
--   BUDGET           core + outreach budget of the base year.
-- The base year is base_financial_year, or the year itself when empty. A net
-- credit counts as zero. Largest-remainder rounding to the penny:
--   1. each SLA gets floor(funding * basis / total_basis) pennies;
--   2. the pennies left over (fewer than the number of SLAs) go one each to
--      the largest remainders, ties to the SLA code first alphabetically;
-- so the year's allocations sum exactly to the funding. Computed in whole
-- pennies (integers), never in floating point. A year whose basis is empty
-- (no basis row in force, or nothing to share by, e.g. the base year's
-- returns are not in the warehouse) cannot be allocated: every SLA gets 0
-- with is_allocated false, the marts report the funding as unallocated and
-- the warehouse gate raises a data quality warning (never a silent 0).
with

pension_funding as (

    select * from {{ ref('ref_pension_funding') }}

),

bases as (

    select * from {{ ref('ref_pension_allocation_bases') }}

),

pensionable_pay_lines as (

    select * from {{ ref('ref_pensionable_pay_lines') }}

),

ledger_totals as (

    select * from {{ ref('int_ledger_lines_aggregated_to_periods') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

funded_years as (

    select
        pension_funding.financial_year,
        pension_funding.pension_funding,
        bases.basis_method,
        coalesce(
            nullif(trim(bases.base_financial_year), ''),
            pension_funding.financial_year
        ) as basis_financial_year,
        cast(
            left(pension_funding.financial_year, 4) || '-04-01' as date
        ) as year_start

    from pension_funding
    left join bases
        on cast(
            left(pension_funding.financial_year, 4) || '-04-01' as date
        ) between bases.valid_from and bases.valid_to

),

pensionable_pay as (

    select
        ledger_totals.financial_year,
        ledger_totals.sla_code,
        sum(ledger_totals.amount) as basis_amount

    from ledger_totals
    inner join pensionable_pay_lines
        on ledger_totals.account_code = pensionable_pay_lines.account_code
        and ledger_totals.fund_strand = pensionable_pay_lines.fund_strand
    group by
        ledger_totals.financial_year,
        ledger_totals.sla_code

),

direct_staffing as (

    select
        financial_year,
        sla_code,
        sum(amount) as basis_amount

    from ledger_totals
    where expenditure_category = 'DIRECT_STAFFING'
    group by
        financial_year,
        sla_code

),

budget_bases as (

    select
        financial_year,
        sla_code,
        core_budget + outreach_budget as basis_amount

    from budgets

),

basis_amounts as (

    select 'PENSIONABLE_PAY' as basis_method, * from pensionable_pay
    union all
    select 'DIRECT_STAFFING' as basis_method, * from direct_staffing
    union all
    select 'BUDGET' as basis_method, * from budget_bases

),

weights as (

    select
        funded_years.financial_year,
        slas.sla_code,
        slas.service_line,
        funded_years.pension_funding,
        funded_years.basis_method,
        funded_years.basis_financial_year,
        case
            when basis_amounts.basis_amount > 0
                then basis_amounts.basis_amount
            else 0
        end as basis_amount

    from funded_years
    inner join slas
        on slas.sla_valid_from <= funded_years.year_start
        and slas.sla_valid_to >= funded_years.year_start
    left join basis_amounts
        on funded_years.basis_method = basis_amounts.basis_method
        and funded_years.basis_financial_year = basis_amounts.financial_year
        and slas.sla_code = basis_amounts.sla_code

),

in_pennies as (

    select
        *,
        {{ to_pennies('pension_funding') }} as funding_pennies,
        {{ to_pennies('basis_amount') }} as weight_pennies,
        sum({{ to_pennies('basis_amount') }}) over (
            partition by financial_year
        ) as total_weight_pennies

    from weights

),

floored as (

    select
        *,
        case
            when total_weight_pennies > 0
                then {{ integer_divide(
                    'cast(funding_pennies as ' ~ type_wide_integer() ~ ')'
                    ~ ' * weight_pennies',
                    'total_weight_pennies'
                ) }}
            else 0
        end as floor_pennies,
        case
            when total_weight_pennies > 0
                then mod(
                    cast(funding_pennies as {{ type_wide_integer() }})
                    * weight_pennies,
                    total_weight_pennies
                )
            else 0
        end as remainder

    from in_pennies

),

ranked as (

    select
        *,
        funding_pennies
        - sum(floor_pennies) over (partition by financial_year)
            as pennies_left,
        row_number() over (
            partition by financial_year
            order by remainder desc, sla_code
        ) as remainder_rank

    from floored

),

final as (

    select
        financial_year,
        sla_code,
        service_line,
        pension_funding,
        basis_method,
        basis_financial_year,
        cast(basis_amount as decimal(18, 2)) as basis_amount,
        cast(
            sum(basis_amount) over (partition by financial_year)
            as decimal(18, 2)
        ) as year_basis_amount,
        {{ from_pennies(
            'floor_pennies + case when total_weight_pennies > 0'
            ~ ' and remainder_rank <= pennies_left then 1 else 0 end'
        ) }} as pension_allocation,
        total_weight_pennies > 0 as is_allocated

    from ranked

)

select * from final
