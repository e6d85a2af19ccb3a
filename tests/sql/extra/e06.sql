-- date arithmetic: intervals folded on constants, days on columns
select extract(year from o_orderdate) as y, count(*) as n,
       min(o_orderdate + 30) as first_due,
       sum(case when o_orderdate between date '1995-02-28' - interval '1' month
                                    and date '1995-01-31' + interval '1' month
                then 1 else 0 end) as around_feb
from orders
where o_orderdate < '1996-01-01'
group by extract(year from o_orderdate)
order by y;
